/**
 * Image grids as PNG (pngjs encoder): samples [n, C, H, W] in [−1, 1] laid out row-major
 * in `cols` columns, grey background gutters, optional integer upscaling.
 */
import { PNG } from "pngjs";

export interface GridOptions {
  cols: number;
  /** Sample shape [C, H, W] (C = 1 greyscale or 3 RGB). */
  shape: number[];
  pad?: number;
  scale?: number;
}

/** Pixel size of the top-left `columns × rows` cells of a grid written by `encodeGridPng`. */
export function gridRegion(shape: number[], columns: number, rows: number, { pad = 2, scale = 2 }: { pad?: number; scale?: number } = {}): { width: number; height: number } {
  const [, H, W] = shape;
  return { width: pad + columns * (W * scale + pad), height: pad + rows * (H * scale + pad) };
}

/** The top-left `width × height` pixels of a PNG, re-encoded as 8-bit greyscale (for compact figures). */
export function cropPngGrey(png: Buffer, width: number, height: number): Buffer {
  const source = PNG.sync.read(png);
  const w = Math.min(width, source.width);
  const h = Math.min(height, source.height);
  const out = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) source.data.copy(out.data, y * w * 4, y * source.width * 4, (y * source.width + w) * 4);
  return PNG.sync.write(out, { colorType: 0, inputColorType: 6 });
}

export function encodeGridPng(images: Float32Array, { cols, shape, pad = 2, scale = 2 }: GridOptions): Buffer {
  const [C, H, W] = shape;
  if (C !== 1 && C !== 3) throw new Error(`image grid: expected 1 or 3 channels, got ${C}`);
  const per = C * H * W;
  const n = Math.floor(images.length / per);
  if (n * per !== images.length) throw new Error(`image grid: ${images.length} values is not a whole number of [${shape}] images`);
  const rows = Math.max(1, Math.ceil(n / cols));
  const cellW = W * scale + pad;
  const cellH = H * scale + pad;
  const png = new PNG({ width: cols * cellW + pad, height: rows * cellH + pad });
  png.data.fill(96);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const toByte = (v: number): number => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
  for (let k = 0; k < n; k++) {
    const ox = pad + (k % cols) * cellW;
    const oy = pad + Math.floor(k / cols) * cellH;
    for (let y = 0; y < H * scale; y++) {
      for (let x = 0; x < W * scale; x++) {
        const sy = Math.floor(y / scale);
        const sx = Math.floor(x / scale);
        const at = ((oy + y) * png.width + (ox + x)) * 4;
        for (let c = 0; c < 3; c++) {
          const channel = C === 1 ? 0 : c;
          png.data[at + c] = toByte(images[k * per + channel * H * W + sy * W + sx]);
        }
      }
    }
  }
  return PNG.sync.write(png);
}
