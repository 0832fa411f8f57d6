/**
 * Runs tasks one at a time in submission order. A portal owns one per direction so events of
 * one conversation are handled strictly in order while other conversations run in parallel.
 * A failing task never stalls the ones behind it: its error goes to the task's own promise.
 */
export class OrderedQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  get size(): number {
    return this.pending;
  }

  push<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.tail.then(task, task);
    this.tail = run.then(
      () => this.pending--,
      () => this.pending--,
    );
    return run;
  }

  /** Resolves once everything queued so far has settled. */
  async drain(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }
}
