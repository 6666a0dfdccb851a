// A cache's keys kept in (namespace, name) order as its entries come and go, so that a reconcile reads
// 10,000 pods in order without sorting them each time: an add or delete is a binary search and one splice
// (moving pointers), where a sort per read compared ~140,000 pairs.
import { compareText } from '../../agent/text/compare.ts';

interface Row {
  key: string;
  namespace: string;
  name: string;
}

const compare = (a: Omit<Row, 'key'>, b: Omit<Row, 'key'>) =>
  compareText(a.namespace, b.namespace) || compareText(a.name, b.name);

export class SortedKeys {
  private readonly rows: Row[] = [];
  private readonly byKey = new Map<string, Row>();

  add(key: string, namespace: string, name: string): void {
    if (this.byKey.has(key)) return;
    const row = { key, namespace, name };
    this.byKey.set(key, row);
    this.rows.splice(this.lowerBound(row), 0, row);
  }

  delete(key: string): void {
    const row = this.byKey.get(key);
    if (!row) return;
    this.byKey.delete(key);
    const i = this.lowerBound(row);
    if (this.rows[i] === row) this.rows.splice(i, 1);
  }

  /** The keys in (namespace, name) order. */
  *keys(): Generator<string> {
    for (const r of this.rows) yield r.key;
  }

  get size(): number {
    return this.rows.length;
  }

  /** The first position whose row is not before `row`. */
  private lowerBound(row: Omit<Row, 'key'>): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.rows[mid]!, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
