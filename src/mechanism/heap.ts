/**
 * A binary heap whose order a subclass defines: `before(a, b)` is true when a must come out before b (a total order,
 * so the pop order never depends on the heap's layout). The mechanism's queues (a type's rows in Gavel's order, the
 * queue index's groups and streams, the free-server buckets) all extend it. Storage is one array reused across
 * pushes and pops, and the sifts move a hole instead of swapping, so the hot path allocates nothing.
 */
export abstract class BinaryHeap<T> {
  /** `items` becomes the heap's storage (not copied); call `heapify()` if it is not in heap order. */
  constructor(protected readonly items: T[] = []) {}

  protected abstract before(a: T, b: T): boolean;

  get size(): number {
    return this.items.length;
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(v: T): void {
    const h = this.items;
    h.push(v);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(v, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = v;
  }

  /** Adds without restoring the order (a bulk load): `heapify()` before the next peek or pop. */
  append(v: T): void {
    this.items.push(v);
  }

  heapify(): void {
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last!;
      this.down(0);
    }
    return top;
  }

  /** The first item's key changed so that it may come later: restores the order. */
  fixTop(): void {
    if (this.items.length > 0) this.down(0);
  }

  private down(i: number): void {
    const h = this.items;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(h[r]!, h[l]!) ? r : l;
      if (!this.before(h[c]!, e)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = e;
  }
}
