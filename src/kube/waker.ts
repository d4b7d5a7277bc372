/**
 * When the driver's next pass runs, beside its fixed tick: at once (debounced) when something it acts on happened
 * (a stop ended, a stopping Job's pod went), and at the instant the next known lease starts or ends, so a round's
 * stops and admissions begin at its start rather than at the next tick. Never two passes at once: a wake-up during a
 * pass runs another right after it.
 */
export class Waker {
  private running = false;
  private again = false;
  private at = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly pass: () => Promise<void>) {}

  /** The pass calls these around its work. */
  begin(): void {
    this.running = true;
  }

  end(): void {
    this.running = false;
    if (this.again) {
      this.again = false;
      this.soon();
    }
  }

  /** A pass soon (once the running one is over). */
  soon(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.set(0, 5);
  }

  /** A pass at `at` (Unix ms), unless one is due earlier. */
  atTime(at: number): void {
    if (this.closed || at >= this.at) return;
    this.set(at, Math.max(0, at - Date.now() + 1));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private set(at: number, inMs: number): void {
    this.at = at;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.at = Infinity;
      this.timer = undefined;
      if (this.running) this.again = true;
      else void this.pass();
    }, inMs);
  }
}
