/**
 * Progress of a sweep: a bar with ETA on a terminal (cli-progress), plain lines otherwise.
 */
import cliProgress from 'cli-progress';

export class Progress {
  private bar?: cliProgress.SingleBar;
  private done = 0;
  private lastLine = 0;

  constructor(
    private readonly total: number,
    isTTY: boolean,
    private readonly out: (s: string) => void,
  ) {
    if (isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: '{bar} {value}/{total} rows | ETA {eta_formatted} | {label}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { label: '' });
    }
  }

  advance(n: number, label: string): void {
    this.done += n;
    if (this.bar) {
      this.bar.update(this.done, { label });
      return;
    }
    // Plain lines: about twenty over the sweep, and the last one.
    const step = Math.max(1, Math.ceil(this.total / 20));
    if (n > 0 && (this.done - this.lastLine >= step || this.done === this.total)) {
      this.lastLine = this.done;
      this.out(`progress: ${this.done}/${this.total} rows${label ? ` (${label})` : ''}`);
    }
  }

  /** A line about the sweep that is not a row (e.g. waiting for the store). */
  note(label: string): void {
    if (this.bar) this.bar.update(this.done, { label });
    else this.out(`progress: ${this.done}/${this.total} rows (${label})`);
  }

  stop(): void {
    this.bar?.stop();
  }
}
