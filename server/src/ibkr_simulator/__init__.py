"""A simulated IB Gateway that speaks the TWS API wire protocol, for tests and credential-free demos."""

from ibkr_simulator.config import FillPolicy, Limits, SimulatorConfig
from ibkr_simulator.prices import Quote
from ibkr_simulator.simulator import Simulator, SimulatorStatus

__all__ = ["FillPolicy", "Limits", "Quote", "Simulator", "SimulatorConfig", "SimulatorStatus"]
