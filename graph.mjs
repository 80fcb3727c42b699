import { parseSync } from 'oxc-parser';
import fs from 'node:fs'; import path from 'node:path';
const files = fs.readdirSync('src', { recursive: true }).filter(f => /\.(ts|tsx)$/.test(f)).map(f => path.join('src', f));
const edges = new Map();
for (const f of files) {
  const r = parseSync(f, fs.readFileSync(f, 'utf8'));
  const reqs = [];
  for (const i of r.module.staticImports) { if (i.entries.length === 0 || i.entries.some(e => !e.isType)) reqs.push(i.moduleRequest.value); }
  for (const e of r.module.staticExports) for (const en of e.entries) if (en.moduleRequest && !en.isType) reqs.push(en.moduleRequest.value);
  for (const d of r.module.dynamicImports) { const s = r.program ? null : null; }
  const isTest = /\.test\.tsx?$|test-helpers|testing|fixtures/.test(f);
  for (const q of reqs) {
    if (!q.startsWith('.')) continue;
    const t = path.normalize(path.join(path.dirname(f), q.replace(/\?.*$/, '')));
    const top = (p) => { const parts = p.split(path.sep); return parts[0] === 'src' ? (parts.length > 2 ? parts[1] : '(root)') : parts[0]; };
    const a = top(f), b = top(t);
    if (a === b) continue;
    const k = `${a} -> ${b}`;
    if (!edges.has(k)) edges.set(k, []);
    edges.get(k).push(`${f}${isTest?' [T]':''} : ${q}`);
  }
}
for (const [k, v] of [...edges].sort()) { console.log(`${k} (${v.length})`); if (process.argv[2]) for (const x of v) console.log('   ', x); }
