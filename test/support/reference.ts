/** A float64 brute-force reference for tiny RBMs, written independently of lib/. */

import { Rng } from "../../lib/core/random";
import { makeRBM } from "../../lib/core/rbm";

/** A random RBM with weights ~ N(0, scale²) and biases ~ N(0, (scale/2)²), plus plain JS copies. */
export function randomRBM(nVisible: number, nHidden: number, seed: number, scale = 1) {
  const rng = new Rng(seed);
  const W = Array.from({ length: nVisible }, () => Array.from({ length: nHidden }, () => scale * rng.normal()));
  const b = Array.from({ length: nVisible }, () => 0.5 * scale * rng.normal());
  const c = Array.from({ length: nHidden }, () => 0.5 * scale * rng.normal());
  return { rbm: makeRBM(W, b, c), W, b, c };
}

/** Bits of integer s as a 0/1 vector of length n (bit j = unit j). */
export function bits(s: number, n: number): number[] {
  return Array.from({ length: n }, (_, j) => (s >>> j) & 1);
}

/** E(v, h) in float64 straight from the definition. */
export function energy64(v: number[], h: number[], W: number[][], b: number[], c: number[]): number {
  let e = 0;
  for (let i = 0; i < v.length; i++) e -= v[i] * b[i];
  for (let j = 0; j < h.length; j++) e -= h[j] * c[j];
  for (let i = 0; i < v.length; i++) for (let j = 0; j < h.length; j++) e -= v[i] * W[i][j] * h[j];
  return e;
}

/** The full joint table p(v, h) by brute force, index [sv][sh]. */
export function joint64(W: number[][], b: number[], c: number[]): { p: number[][]; logZ: number } {
  const nV = b.length;
  const nH = c.length;
  const negE: number[][] = [];
  let max = -Infinity;
  for (let sv = 0; sv < 2 ** nV; sv++) {
    negE.push([]);
    for (let sh = 0; sh < 2 ** nH; sh++) {
      const x = -energy64(bits(sv, nV), bits(sh, nH), W, b, c);
      negE[sv].push(x);
      max = Math.max(max, x);
    }
  }
  let z = 0;
  for (const row of negE) for (const x of row) z += Math.exp(x - max);
  const logZ = max + Math.log(z);
  return { p: negE.map((row) => row.map((x) => Math.exp(x - logZ))), logZ };
}
