"""Persistence: SQLAlchemy 2 async tables and repositories, on PostgreSQL or embedded SQLite."""
