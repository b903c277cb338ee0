/**
 * Concurrent requests for one key share one upstream call, in this process. Each caller may stop
 * waiting through its own signal; the call itself is aborted only when every caller has gone.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  run(key: string, call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    let flight = this.flights.get(key);
    if (!flight) {
      flight = new Flight(call);
      this.flights.set(key, flight);
      const forget = () => this.flights.delete(key);
      flight.settled.then(forget, forget);
    }
    return flight.join(signal);
  }
}

class Flight<T> {
  readonly settled: Promise<T>;
  private readonly controller = new AbortController();
  private waiting = 0;

  constructor(run: (signal: AbortSignal) => Promise<T>) {
    this.settled = run(this.controller.signal);
    // Callers who left must not see an unhandled rejection.
    this.settled.catch(() => {});
  }

  join(signal: AbortSignal | undefined): Promise<T> {
    signal?.throwIfAborted();
    this.waiting++;
    // A caller without a signal never leaves, so the call runs to its end for them.
    if (!signal) return this.settled;
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        this.waiting--;
        if (this.waiting === 0) this.controller.abort(signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener("abort", leave, { once: true });
      this.settled.then(resolve, reject).finally(() => signal.removeEventListener("abort", leave));
    });
  }
}
