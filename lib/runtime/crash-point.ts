/**
 * Crash injection for the crash tests: when `SAGASTREAM_CRASH_AT` names a point, the
 * worker kills itself with a real SIGKILL the N-th time (`SAGASTREAM_CRASH_AFTER`,
 * default 1) it reaches that point. Nothing runs after the kill, exactly as if the
 * machine had died there. Without the variable this is one comparison.
 */

/** The crash windows of DESIGN.md ("Recovery and the crash windows to test"). */
export type CrashPoint =
  /** A process append is in the store, its input's checkpoint is not. */
  | 'after-append'
  /** A decision with CommandScheduled is in the store, the relay has not delivered it. */
  | 'after-command-scheduled'
  /** The command handler ran, the relay has not recorded the delivery. */
  | 'during-delivery'
  /** A compensation command was delivered, its completion is not recorded. */
  | 'during-compensation'
  /** A timer is due and firing (before its TimeoutFired append). */
  | 'while-timer-fires';

const target = process.env.SAGASTREAM_CRASH_AT;
let remaining = Number(process.env.SAGASTREAM_CRASH_AFTER ?? 1);

/** Kills the process with SIGKILL if `point` is the configured crash point (see module comment). */
export function crashPoint(point: CrashPoint): void {
  if (target !== point) return;
  if (--remaining > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
