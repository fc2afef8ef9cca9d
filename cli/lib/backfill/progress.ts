/**
 * The progress display on stderr: on a terminal one line redrawn in place (`\r`), elsewhere (CI,
 * a log file) a plain line every few seconds. Shows done / total, rate, ETA and the outcome counts.
 */
import { totalOf, type OutcomeCounts } from "./checkpoint";

export interface ProgressSink {
  write(text: string): void;
  /** Redraw in place when true. */
  isTTY?: boolean;
}

export interface ProgressOptions {
  sink: ProgressSink;
  label: string;
  dryRun: boolean;
  /** Users done before this run (resumed from a checkpoint): counted as done, not in the rate. */
  doneBefore: number;
  /** How often a line is printed when not on a terminal. */
  lineIntervalMs: number;
  now(): number;
}

export interface Progress {
  setTotal(total: number | undefined): void;
  update(counts: OutcomeCounts): void;
  /**
   * A message on its own line (stderr, or `write` for report lines bound for stdout), with the
   * bar cleared first and redrawn below it, so the two never share a terminal line.
   */
  note(message: string, write?: (line: string) => void): void;
  /** Final state, then a newline. */
  finish(counts: OutcomeCounts): void;
  /** Users per second over this run. */
  rate(): number;
}

const BAR_WIDTH = 24;
const TTY_REDRAW_MS = 100;

export function createProgress(options: ProgressOptions): Progress {
  const { sink } = options;
  const startedAt = options.now();
  let total: number | undefined;
  let counts: OutcomeCounts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  let lastDrawnAt = Number.NEGATIVE_INFINITY;
  let barShown = false;
  let finished = false;

  const doneThisRun = () => Math.max(0, totalOf(counts) - options.doneBefore);
  const rate = () => {
    const seconds = (options.now() - startedAt) / 1000;
    return seconds > 0 ? doneThisRun() / seconds : 0;
  };

  function render(): string {
    const done = totalOf(counts);
    const parts = [`backfill ${options.label}`];
    if (total !== undefined && total > 0) {
      const fraction = Math.min(1, done / total);
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`, `${done}/${total}`, `${Math.floor(fraction * 100)}%`);
    } else {
      parts.push(`${done} done`);
    }
    const perSecond = rate();
    parts.push(`${perSecond.toFixed(perSecond < 10 ? 1 : 0)} users/s`);
    if (total !== undefined && perSecond > 0 && done < total) parts.push(`ETA ${formatDuration(((total - done) / perSecond) * 1000)}`);
    const verb = options.dryRun ? "would " : "";
    parts.push(`· ${verb}create ${counts.created} · ${verb}update ${counts.updated} · unchanged ${counts.unchanged} · failed ${counts.failed}`);
    return parts.join("  ");
  }

  function draw(force: boolean): void {
    const now = options.now();
    const interval = sink.isTTY ? TTY_REDRAW_MS : options.lineIntervalMs;
    if (!force && now - lastDrawnAt < interval) return;
    lastDrawnAt = now;
    // \x1b[K clears what a longer previous line left behind.
    sink.write(sink.isTTY ? `\r${render()}\x1b[K` : `${render()}\n`);
    barShown = true;
  }

  return {
    setTotal(value) {
      total = value;
    },
    update(next) {
      counts = { ...next };
      draw(false);
    },
    note(message, write) {
      const redraw = sink.isTTY && barShown && !finished;
      if (redraw) sink.write("\r\x1b[K");
      if (write) write(message);
      else sink.write(`${message}\n`);
      if (redraw) draw(true);
    },
    finish(final) {
      counts = { ...final };
      draw(true);
      if (sink.isTTY) sink.write("\n");
      finished = true;
    },
    rate,
  };
}

/** 75_000 → "1:15", 3_725_000 → "1:02:05". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
