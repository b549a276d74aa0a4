/**
 * How long to wait before reconnect attempt number `attempt` (0 for the first): "full jitter", a
 * uniformly random delay in `[0, min(maxDelay, minDelay · 2^attempt))`. The cap is applied before the
 * randomness, so clients that lost their server together spread their retries over the whole window
 * instead of meeting again at the cap.
 */
export function reconnectDelay(
	attempt: number,
	minDelay: number,
	maxDelay: number,
	random: () => number = Math.random
): number {
	// The exponent stops growing long after any real cap is reached, so 0 · 2^attempt never becomes NaN.
	return Math.floor(random() * Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 32)));
}
