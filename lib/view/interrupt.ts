/**
 * Stopping long work from the notebook's ■ (interrupt) button.
 *
 * Jupyter interrupts a kernel with SIGINT. tslab answers it by returning from the running cell at
 * once, but an awaited loop (training, AIS, long chains) would go on in the background: its progress
 * bar keeps moving, its result is never assigned, and rerunning the cell starts a second run beside
 * the first. So inside a notebook the library listens for SIGINT too and marks an interrupt as
 * pending; every long loop checks the mark after each unit of work (through its {@link Pacer}), stops
 * within one batch, frees its tensors and rejects with an {@link InterruptedError} that carries what
 * was learned so far. As the cell has already returned, that error cannot be assigned to a variable:
 * {@link lastInterrupted} hands it to the next cell.
 *
 * Outside a notebook nothing listens for SIGINT (Ctrl-C ends a script as usual); tests and scripts
 * can call {@link requestInterrupt} themselves.
 */
import { inNotebook } from "./display";

/** Thrown by a long loop stopped by an interrupt; `partial` holds what it had when it stopped. */
export class InterruptedError<P = unknown> extends Error {
  constructor(
    message: string,
    /** What was computed so far (a model, finished layers, …), owned by whoever takes it. */
    readonly partial?: P,
  ) {
    super(message);
    this.name = "InterruptedError";
  }
}

/** When the pending interrupt arrived (performance.now()), or undefined. */
let pendingSince: number | undefined;
let listening = false;
let last: InterruptedError | undefined;

/** Starts listening for SIGINT when running inside a notebook kernel (once; idempotent). */
export function watchInterrupts(): void {
  if (listening || !inNotebook()) return;
  listening = true;
  // Not now: a cell runs inside vm.runInThisContext({ breakOnSigint: true }), which takes the SIGINT
  // listeners off while it runs and puts back only those it took. A listener added meanwhile would
  // keep Node from reinstalling its signal handler afterwards, and the next SIGINT would end the
  // kernel. On the next turn of the event loop the cell's synchronous part is over.
  setImmediate(() => process.on("SIGINT", requestInterrupt));
}

/** Asks the running long loops to stop after their current unit of work (what SIGINT does in a notebook). */
export function requestInterrupt(): void {
  pendingSince = performance.now();
}

/**
 * Whether an interrupt is waiting for a loop that started at `startedAt` (performance.now()): only
 * an interrupt that arrived while the loop ran counts, so that a ■ pressed while nothing ran does
 * not stop the next run.
 */
export function interruptPending(startedAt = Number.NEGATIVE_INFINITY): boolean {
  return pendingSince !== undefined && pendingSince >= startedAt;
}

/** Forgets a pending interrupt. */
export function clearInterrupt(): void {
  pendingSince = undefined;
}

/**
 * Records the error of an interrupted loop for {@link lastInterrupted} and clears the pending
 * interrupt. Returns the error, to be thrown.
 */
export function interrupted<E extends InterruptedError>(error: E): E {
  pendingSince = undefined;
  last = error;
  return error;
}

/**
 * The error of the most recently interrupted loop, with its `partial` result (e.g. the model as it
 * was after the last finished batch), or undefined. In the cell after an interrupted training cell:
 * `const rbm = rbmlib.lastInterrupted()?.partial`.
 */
export function lastInterrupted(): InterruptedError | undefined {
  return last;
}

// Loaded by a notebook's import cell: listen from the next turn of the event loop on, so that a ■ in a
// later cell is heard from its first batch.
watchInterrupts();
