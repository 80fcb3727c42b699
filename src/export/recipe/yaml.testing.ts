// A strict parser of the YAML the recipe's accelerate configs use, for tests (no YAML package is installed):
// block mappings indented by two spaces, plain or single-quoted scalars, true/false/null, numbers. Anything else
// (flow collections, sequences, tabs, anchors, duplicate keys, odd indentation) throws.
export type YamlValue = string | number | boolean | null | { [key: string]: YamlValue };

function scalar(text: string, line: number): YamlValue {
  if (/^'([^']|'')*'$/.test(text)) return text.slice(1, -1).replace(/''/g, "'");
  if (/^["[\]{}&*!|>%@`#,]/.test(text) || text.startsWith('- ') || text === '-') throw new Error(`line ${line}: unsupported value ${text}`);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  // YAML 1.1 readers (PyYAML, which accelerate uses) take these as booleans: accelerate quotes them.
  if (/^(yes|no|on|off|y|n)$/i.test(text)) throw new Error(`line ${line}: ${text} is a boolean to YAML 1.1; quote it`);
  if (/: |\s#/.test(text)) throw new Error(`line ${line}: unsupported plain scalar ${text}`);
  return text;
}

export function parseYamlSubset(source: string): { [key: string]: YamlValue } {
  const root: { [key: string]: YamlValue } = {};
  const stack: { indent: number; map: { [key: string]: YamlValue } }[] = [{ indent: 0, map: root }];
  let open: { indent: number; map: { [key: string]: YamlValue } } | null = null;
  source.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.includes('\t')) throw new Error(`line ${line}: tab`);
    if (raw.trim() === '') return;
    const indent = raw.length - raw.trimStart().length;
    const m = /^([A-Za-z_][A-Za-z0-9_]*):(?: (.+))?$/.exec(raw.trimStart());
    if (!m) throw new Error(`line ${line}: not a "key: value" line: ${raw}`);
    if (open) {
      if (indent !== open.indent) throw new Error(`line ${line}: a nested block must be indented to ${open.indent}`);
      stack.push(open);
      open = null;
    }
    while (stack.length > 1 && indent < stack[stack.length - 1].indent) stack.pop();
    const top = stack[stack.length - 1];
    if (indent !== top.indent) throw new Error(`line ${line}: indentation ${indent}, expected ${top.indent}`);
    const [, key, value] = m;
    if (key in top.map) throw new Error(`line ${line}: duplicate key ${key}`);
    if (value === undefined) {
      const child: { [key: string]: YamlValue } = {};
      top.map[key] = child;
      open = { indent: indent + 2, map: child };
    } else top.map[key] = scalar(value.trim(), line);
  });
  if (open) throw new Error('the last key has no value');
  return root;
}
