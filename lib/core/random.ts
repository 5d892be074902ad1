/**
 * Seeded pseudo-random numbers in plain JavaScript.
 *
 * Why not `tf.randomUniform`? Its numbers depend on the backend and cost ~20 ns each on wasm;
 * xoshiro128** fills a Float32Array at ~1.5 ns per number and gives the same stream on every
 * backend, so "same seed ⇒ same numbers" holds everywhere.
 */

/**
 * A seed: an integer 0 … 2³²−1 (hashed into a fresh generator) or a generator to continue.
 * Other numbers (negative, fractional, ≥ 2³²) are refused: they could not all give distinct streams.
 */
export type Seed = number | Rng;

/** splitmix32: spreads a 32-bit seed into well-mixed state words. */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128** generator (Blackman & Vigna): small state, fast, good statistical quality. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed an integer 0 … 2³²−1; equal seeds give equal streams, distinct seeds distinct ones.
   * @throws for any other number (it would collide with an integer seed)
   */
  constructor(seed: number) {
    assertSeed(seed, "Rng");
    const mix = splitmix32(seed);
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform number in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw (Box–Muller). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Fills `out` with uniforms in [0, 1) and returns it. */
  fillUniform(out: Float32Array): Float32Array {
    // nextUint32 inlined on local copies of the state (the same stream, about 2× faster: this loop
    // makes the dropout masks and Bernoulli samples of every training batch).
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = 0; i < out.length; i++) {
      const x = Math.imul(s1, 5);
      const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = r * 2.3283064365386963e-10;
    }
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    return out;
  }

  /**
   * Lets native code continue this exact stream: `advance` gets the four state words (a copy) and
   * advances them in place, and the generator takes them back. compute/blas.ts's Bernoulli kernel
   * draws the same uniforms as {@link Rng.fillUniform} this way.
   */
  advanceWith(advance: (state: Uint32Array) => void): void {
    const state = Uint32Array.of(this.s0, this.s1, this.s2, this.s3);
    advance(state);
    this.s0 = state[0];
    this.s1 = state[1];
    this.s2 = state[2];
    this.s3 = state[3];
  }

  /** Fills `out` with N(mean, std²) draws and returns it. */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** A new independent generator seeded from this one (for parallel streams). */
  fork(): Rng {
    // The seed word of the 64-bit value hi·2³² + lo as it always was (high and low words folded).
    const v = this.nextUint32() * 4294967296 + this.nextUint32();
    return new Rng(((v >>> 0) ^ Math.floor(v / 4294967296)) >>> 0);
  }

  /** In-place Fisher–Yates shuffle; returns `arr`. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Largest seed: seeds are the 2³² integers 0 … 4294967295, each with its own stream. */
const MAX_SEED = 4294967295;

/**
 * Throws unless `seed` is a generator or an integer 0 … 2³²−1 (the seeds with distinct streams).
 * @param what names the caller in the message
 */
export function assertSeed(seed: unknown, what: string): asserts seed is Seed {
  if (seed instanceof Rng) return;
  if (!(typeof seed === "number" && Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED)) {
    throw new Error(
      `${what}: seed must be an integer 0 … ${MAX_SEED} (or an Rng), got ${String(seed)}; other numbers would repeat another seed's stream. ` +
        `Pick a whole number (e.g. 42), or Math.floor(Math.random() * 2 ** 32) for a random one.`,
    );
  }
}

/**
 * Turns a {@link Seed} into a generator: numbers start a new stream, generators are continued.
 * @param what names the caller in error messages (a missing or invalid seed)
 */
export function toRng(seed: Seed, what = "toRng"): Rng {
  assertSeed(seed, what);
  return seed instanceof Rng ? seed : new Rng(seed);
}
