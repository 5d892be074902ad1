/** What a screenshot shows: its pixels as RGBA and colour statistics of a box of it (blank? coloured data?). */
import type { Box } from "./cdp";
import { decodePng, type Rgba, toRgba } from "./png";

/** A screenshot (PNG) as RGBA. */
export const screenshotPixels = (png: Buffer): Rgba => toRgba(decodePng(png));

/** What a picture (or a box of it) contains: distinct colours, non-white and colourful shares. */
export function pixelStats(img: Rgba, box: Box = { x: 0, y: 0, width: img.width, height: img.height }) {
  const x0 = Math.max(0, Math.floor(box.x));
  const y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(img.width, Math.ceil(box.x + box.width));
  const y1 = Math.min(img.height, Math.ceil(box.y + box.height));
  const colours = new Set<number>();
  let pixels = 0;
  let nonWhite = 0;
  let colourful = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      const [r, g, b] = [img.data[i], img.data[i + 1], img.data[i + 2]];
      pixels++;
      colours.add((r << 16) | (g << 8) | b);
      if (r < 245 || g < 245 || b < 245) nonWhite++;
      if (Math.max(r, g, b) - Math.min(r, g, b) >= 60) colourful++; // clearly not gray
    }
  }
  const share = (n: number) => (pixels ? n / pixels : 0);
  return {
    pixels,
    distinctColours: colours.size,
    nonWhite: share(nonWhite),
    colourful: share(colourful),
    toString() {
      return (
        `${x1 - x0}x${y1 - y0} px, ${colours.size} distinct colours, ${(100 * share(nonWhite)).toFixed(1)}% non-white, ` +
        `${(100 * share(colourful)).toFixed(2)}% colourful`
      );
    },
  };
}
