/**
 * Images of printed text for the PP-OCR models, drawn with sharp from SVG (no files shipped):
 * text lines (upright and upside down, for the orientation classifier and the recogniser) and
 * pages of several lines (for the detector).
 */
import { join } from 'node:path';
import sharp from 'sharp';

export const TEXT_WORDS: readonly string[] = [
  'Hello world 2026', 'quantisation test', 'ONNX runtime', 'edge and cloud', 'split computing', 'PaddleOCR text', 'invoice no 1234', 'total 99.95 EUR', 'Main Street 12', 'layer by layer',
  'The quick brown fox', 'jumps over 13 dogs', 'Receipt A-7781', 'Date 2026-12-01', 'Phone 555 0142', 'mobile network', 'deep learning', 'Berlin Gleis 7', 'VAT 19% incl.', 'Thank you!',
];

/** `words` lines of 384x96 black text on white, each upright then upside down: 00.png, 01.png, ... */
export async function renderTextLines(dir: string, words: number): Promise<number> {
  let k = 0;
  for (const w of TEXT_WORDS.slice(0, words)) {
    for (const angle of [0, 180]) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="384" height="96"><rect width="100%" height="100%" fill="white"/><text x="12" y="66" font-family="sans-serif" font-size="${40 + (k % 3) * 4}" fill="black">${w}</text></svg>`;
      await sharp(Buffer.from(svg)).rotate(angle).png().toFile(join(dir, `${String(k++).padStart(2, '0')}.png`));
    }
  }
  return k;
}

/** `pages` 320x320 pages of seven lines each, on three paper colours. */
export async function renderPages(dir: string, pages: number): Promise<void> {
  for (let p = 0; p < pages; p++) {
    let body = '';
    for (let l = 0; l < 7; l++) {
      const colour = ['000', '222', '303060'][l % 3];
      body += `<text x="${16 + ((l * 37 + p * 11) % 60)}" y="${44 + l * 40}" font-family="sans-serif" font-size="${22 + ((l + p) % 3) * 4}" fill="#${colour}">${TEXT_WORDS[(p * 7 + l) % TEXT_WORDS.length]}</text>`;
    }
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320"><rect width="100%" height="100%" fill="#${['fff', 'f4f0e6', 'eef'][p % 3]}"/>${body}</svg>`;
    await sharp(Buffer.from(svg)).png().toFile(join(dir, `${p}.png`));
  }
}
