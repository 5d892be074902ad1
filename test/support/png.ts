/**
 * An independent PNG decoder for tests (lib/view/png.ts only encodes): checks the signature and
 * every chunk's CRC (with zlib.crc32), inflates and unfilters 8-bit, non-interlaced gray, gray +
 * alpha, RGB and RGBA images — what lib/view/png.ts writes and what Chromium's screenshots are.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";

export interface DecodedPng {
  width: number;
  height: number;
  /** 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** `channels` bytes per pixel, row-major. */
  pixels: Uint8Array;
}

const CHANNELS: Record<number, number> = { 0: 1, 4: 2, 2: 3, 6: 4 };

/** Decodes `png`; throws an AssertionError naming what is wrong with a malformed or unsupported file. */
export function decodePng(png: Uint8Array): DecodedPng {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "not a PNG file");
  const idat: Buffer[] = [];
  const types: string[] = [];
  let ihdr: Buffer | undefined;
  for (let off = 8; off < buf.length; ) {
    assert.ok(off + 12 <= buf.length, `PNG chunk at byte ${off} is truncated`);
    const len = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    assert.ok(off + 12 + len <= buf.length, `PNG chunk ${type} at byte ${off} is truncated`);
    const data = buf.subarray(off + 8, off + 8 + len);
    assert.equal(buf.readUInt32BE(off + 8 + len), zlib.crc32(buf.subarray(off + 4, off + 8 + len)), `CRC of ${type}`);
    types.push(type);
    if (type === "IHDR") ihdr = data;
    if (type === "IDAT") idat.push(data);
    off += 12 + len;
  }
  assert.deepEqual([types[0], types[types.length - 1]], ["IHDR", "IEND"], `chunks: ${types.join(", ")}`);
  assert.ok(ihdr);
  const [width, height, depth, color, interlace] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[12]];
  const channels = CHANNELS[color] ?? 0;
  assert.ok(
    depth === 8 && channels > 0 && interlace === 0,
    `unsupported PNG: bit depth ${depth}, color type ${color}, interlace ${interlace}`,
  );
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  assert.equal(raw.length, (stride + 1) * height, "PNG data size does not match its header");
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    assert.ok(filter <= 4, `PNG row ${y}: unknown filter type ${filter}`);
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels] : 0;
      const b = up[x];
      const c = x >= channels ? up[x - channels] : 0;
      let pred: number;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) >> 1;
          break;
        default: {
          // Paeth: the neighbour closest to a + b − c, ties in the order a, b, c.
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
      }
      row[x] = (src[x] + pred) & 255;
    }
  }
  return { width, height, channels, pixels: out };
}

export interface Rgba {
  width: number;
  height: number;
  /** RGBA, row-major. */
  data: Uint8Array;
}

/** A decoded image as RGBA (gray is spread to R, G and B; a missing alpha is 255). */
export function toRgba(img: DecodedPng): Rgba {
  const { width, height, channels, pixels } = img;
  const data = new Uint8Array(width * height * 4);
  const alpha = channels === 2 || channels === 4;
  for (let i = 0, s = 0, d = 0; i < width * height; i++, s += channels, d += 4) {
    const gray = channels < 3;
    data[d] = pixels[s];
    data[d + 1] = gray ? pixels[s] : pixels[s + 1];
    data[d + 2] = gray ? pixels[s] : pixels[s + 2];
    data[d + 3] = alpha ? pixels[s + channels - 1] : 255;
  }
  return { width, height, data };
}
