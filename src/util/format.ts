// How numbers, sizes and times read, in the UI and in messages.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '–';
  let scaled = bytes;
  let unit = 0;
  while (scaled >= 1024 && unit < BYTE_UNITS.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${scaled.toFixed(Number.isInteger(scaled) || scaled >= 100 ? 0 : 1)} ${BYTE_UNITS[unit]}`;
}

/** A loss with four significant digits: 2.303, 0.04512. */
export function formatLoss(loss: number | null | undefined): string {
  if (loss === null || loss === undefined || !Number.isFinite(loss)) return '–';
  return loss.toPrecision(4);
}

export function formatRate(tokensPerSecond: number | null | undefined): string {
  if (tokensPerSecond === null || tokensPerSecond === undefined || !Number.isFinite(tokensPerSecond)) return '–';
  if (tokensPerSecond >= 10_000) return `${(tokensPerSecond / 1000).toFixed(1)}k tok/s`;
  return `${Math.round(tokensPerSecond).toLocaleString('en-US')} tok/s`;
}

/** A learning rate: 3e-4, 0.001. */
export function formatLr(lr: number): string {
  if (!Number.isFinite(lr)) return '–';
  if (lr === 0) return '0';
  return lr < 0.001 ? lr.toExponential(1).replace('.0e', 'e') : String(Number(lr.toPrecision(3)));
}

/** Local date and time, to the minute: 2026-03-04 17:05. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Line breaks shown as ↵ (and still breaking the line), so a highlighted newline token is visible. */
export function showBreaks(text: string): string {
  return text.replace(/\n/g, '↵\n');
}
