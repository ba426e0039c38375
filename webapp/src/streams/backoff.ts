// Capped exponential backoff for stream reconnects.

export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maximumDelayMs: number;
  /** Fraction of the delay taken off at random (0.2: between 80 % and 100 %), so that many tabs
   * do not reconnect in lockstep. */
  readonly jitter: number;
}

/** The delay before reconnect attempt `attempt` (1 for the first retry). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const capped = Math.min(policy.initialDelayMs * 2 ** exponent, policy.maximumDelayMs);
  return Math.round(capped * (1 - policy.jitter * random()));
}
