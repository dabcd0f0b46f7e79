/**
 * A counting semaphore: at most `size` holders at once, the others wait in arrival
 * order. The client bounds its HTTP requests with one; the importer bounds the rows it
 * has sent and not yet seen answered with another.
 */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError('a semaphore needs a size of 1 or more');
    }
  }

  async acquire(): Promise<void> {
    if (this.held < this.size) {
      this.held++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the place to the next waiter, if any, without letting it drop in between. */
  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.held--;
    else next();
  }

  async run<T>(step: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await step();
    } finally {
      this.release();
    }
  }
}
