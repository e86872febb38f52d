import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { startEmbeddedStore } from '../functions/local/embedded-store';
const s = await startEmbeddedStore(process.argv[2]!);
const tables = await s.client.send(new (await import('@aws-sdk/client-dynamodb')).ListTablesCommand({}));
const table = tables.TableNames![0]!;
const size = (v: any): number => { if (v.S !== undefined) return Buffer.byteLength(v.S); if (v.N !== undefined) return Math.ceil(v.N.length / 2) + 1; if (v.B !== undefined) return v.B.length; if (v.BOOL !== undefined || v.NULL !== undefined) return 1; if (v.L) return 3 + v.L.reduce((a: number, x: any) => a + 1 + size(x), 0); if (v.M) return 3 + Object.entries(v.M).reduce((a: number, [k, x]: any) => a + 1 + Buffer.byteLength(k) + size(x), 0); if (v.SS) return v.SS.reduce((a: number, x: string) => a + Buffer.byteLength(x), 0); return 0; };
const byType = new Map<string, { n: number; bytes: number; ex?: any }>();
let key: any;
do {
  const page = await s.client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: key, Limit: 2000 }));
  for (const it of page.Items ?? []) {
    const t = it.type?.S ?? it.pk!.S!.split('#')[0]!;
    const b = Object.entries(it).reduce((a, [k, v]) => a + Buffer.byteLength(k) + size(v), 0);
    const e = byType.get(t) ?? { n: 0, bytes: 0 };
    e.n++; e.bytes += b; if (!e.ex || Math.random() < 0.001) e.ex = it; byType.set(t, e);
  }
  key = page.LastEvaluatedKey;
} while (key);
for (const [t, e] of byType) console.log(t, e.n, 'avg bytes', Math.round(e.bytes / e.n));
console.log(JSON.stringify(byType.get('sa')?.ex, null, 0));
await s.close();
