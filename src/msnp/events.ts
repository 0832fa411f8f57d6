/** Small typed event emitter and the logger interface shared by the sessions. */
import { EventEmitter } from "node:events";

/** Every event carries exactly one payload object. */
export type EventMap = object;

type Listener<T> = (payload: T) => void;

/**
 * A typed facade over Node's EventEmitter. A listener that throws is reported to `onListenerError`
 * instead of unwinding into the socket reader (which would desynchronise the protocol state).
 */
export class TypedEventEmitter<Events extends EventMap> {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    // Bridges attach several listeners per session (portals, puppets, metrics); the default
    // limit of 10 would print spurious leak warnings.
    this.emitter.setMaxListeners(100);
  }

  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.emitter.on(event, listener as Listener<unknown>);
    return this;
  }

  once<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.emitter.once(event, listener as Listener<unknown>);
    return this;
  }

  off<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.emitter.off(event, listener as Listener<unknown>);
    return this;
  }

  listenerCount<K extends keyof Events & string>(event: K): number {
    return this.emitter.listenerCount(event);
  }

  /**
   * While set, events are queued instead of delivered. Sessions hold their events until the
   * code awaiting their connect has had its turn to attach listeners: a command in the same TCP
   * read as the last login reply is parsed before that code runs, and would otherwise be lost.
   */
  private held: { event: keyof Events & string; payload: unknown }[] | null = null;

  protected holdEvents(): void {
    this.held ??= [];
  }

  /** Delivers held events after the current microtasks (where awaiting callers continue). */
  protected releaseEventsSoon(): void {
    setImmediate(() => {
      const held = this.held ?? [];
      this.held = null;
      for (const { event, payload } of held) this.deliver(event, payload as Events[typeof event]);
    });
  }

  protected emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    if (this.held) this.held.push({ event, payload });
    else this.deliver(event, payload);
  }

  private deliver<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    for (const listener of this.emitter.rawListeners(event)) {
      try {
        (listener as Listener<Events[K]>).call(this, payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }

  /** Called when a listener throws; subclasses log it. */
  protected onListenerError(_event: string, _error: unknown): void {
    // Default: swallow. Protocol state must never depend on listener success.
  }
}

export interface MsnLogger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export const NULL_LOGGER: MsnLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function errorMeta(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { error: error.message, errorName: error.name };
  return { error: String(error) };
}
