// Vitest global setup for the browser project: fail early with install advice when no Chromium is found.
import { findChromium } from './chromium';

export default function requireChromium(): void {
  findChromium();
}
