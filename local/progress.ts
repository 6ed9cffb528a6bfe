/** A one-line progress bar on stderr (a line per 10% when stderr is not a terminal). */
export class Progress {
  private lastDecile = -1;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, note = ''): void {
    const share = this.total === 0 ? 1 : Math.min(1, done / this.total);
    if (this.stream.isTTY) {
      const width = 30;
      const filled = Math.round(share * width);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      this.stream.write(
        `\r${this.label} [${bar}] ${Math.floor(share * 100)}% ${done}/${this.total} ${note}`.padEnd(100),
      );
    } else if (Math.floor(share * 10) > this.lastDecile) {
      this.lastDecile = Math.floor(share * 10);
      this.stream.write(`${this.label}: ${Math.floor(share * 100)}% (${done}/${this.total}) ${note}\n`);
    }
  }

  done(note = ''): void {
    this.update(this.total, note);
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
