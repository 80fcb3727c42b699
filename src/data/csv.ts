// A small RFC 4180 CSV reader: quoted fields ("" escapes a quote, newlines allowed inside quotes), LF or CRLF
// line ends, a leading byte-order mark ignored.

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvParseResult {
  records: CsvRecord[];
  /** Records that could not be read (an unclosed quote, text after a closing quote). */
  errors: { line: number; message: string }[];
}

export function parseCsv(text: string, delimiter = ','): CsvParseResult {
  const records: CsvRecord[] = [];
  const errors: { line: number; message: string }[] = [];
  const src = text.startsWith('\ufeff') ? text.slice(1) : text;
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const startLine = line;
    const fields: string[] = [];
    let error: string | null = null;
    // One record: fields until an unquoted line end or the end of the text.
    for (;;) {
      let field = '';
      if (src[i] === '"') {
        i++;
        let closed = false;
        while (i < src.length) {
          const c = src[i];
          if (c === '"') {
            if (src[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (!closed) {
          error = 'a quoted field is not closed';
          break;
        }
        if (i < src.length && src[i] !== delimiter && src[i] !== '\n' && src[i] !== '\r') {
          error = 'text after a closing quote (quotes inside a field must be doubled)';
          // Skip to the end of this line so the next record starts cleanly.
          while (i < src.length && src[i] !== '\n') i++;
          break;
        }
      } else {
        while (i < src.length && src[i] !== delimiter && src[i] !== '\n' && src[i] !== '\r') field += src[i++];
      }
      fields.push(field);
      if (i < src.length && src[i] === delimiter) {
        i++;
        continue;
      }
      break;
    }
    // The line end (CRLF or LF) that closes the record.
    if (src[i] === '\r') i++;
    if (src[i] === '\n') {
      i++;
      line++;
    }
    if (error !== null) errors.push({ line: startLine, message: error });
    else if (!(fields.length === 1 && fields[0] === '')) records.push({ line: startLine, fields });
  }
  return { records, errors };
}
