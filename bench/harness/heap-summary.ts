// Summarises a .heapsnapshot: retained-by-type is costly to compute, so this ranks self
// sizes by constructor (or by node type for strings, arrays, closures...), which is enough to
// see what a process holds per instance when compared across two sizes.
// Usage: node -r ./spec/register.js bench/harness/heap-summary.ts <file.heapsnapshot> [top=30]
import { readFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: unknown[] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** One row: a constructor or node type, how many objects and their self size in bytes. */
export interface HeapRow {
  readonly name: string;
  readonly count: number;
  readonly selfBytes: number;
}

/** Self size per constructor name (objects) or node type (everything else), largest first. */
export function summarizeHeap(snapshot: Snapshot, top = 30): HeapRow[] {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const rows = new Map<string, { count: number; selfBytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? '?';
    const name =
      type === 'object' ? (snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '?') : `(${type})`;
    const row = rows.get(name) ?? { count: 0, selfBytes: 0 };
    row.count++;
    row.selfBytes += snapshot.nodes[i + sizeAt] as number;
    rows.set(name, row);
  }
  return [...rows.entries()]
    .map(([name, r]) => ({ name, ...r }))
    .sort((a, b) => b.selfBytes - a.selfBytes)
    .slice(0, top);
}

/** Writes a heap snapshot of this process (after a GC when exposed) and returns its path. */
export function heapSnapshot(file: string): string {
  (globalThis as { gc?: () => void }).gc?.();
  return writeHeapSnapshot(file);
}

if (require.main === module) {
  const [file, top = '30'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: heap-summary.ts <file.heapsnapshot> [top]');
    process.exit(2);
  }
  const rows = summarizeHeap(JSON.parse(readFileSync(file, 'utf8')) as Snapshot, Number(top));
  for (const r of rows)
    console.log(
      `${(r.selfBytes / 1024).toFixed(0).padStart(10)} KiB ${String(r.count).padStart(9)}  ${r.name}`,
    );
}
