/**
 * The heavy kernels as gpu.js kernel functions. gpu.js translates each function's source
 * (to GLSL, WGSL, WebAssembly or plain JavaScript), so the bodies stay in the subset it
 * understands: loops over constant bounds, arithmetic on flat arrays, `this.thread.x` for the
 * flat output index (row-major: row = x / COLS, column = x % COLS) and `this.constants` for
 * every size (read in place: gpu.js cannot alias `this.constants` to a local). A flat output
 * lets gpu.js fold it into a square texture, so no dimension runs past the GL texture limit.
 */

/** What gpu.js puts on `this` inside a kernel. */
export interface KernelContext {
  thread: { x: number };
  constants: Record<string, number>;
}

/** C[row][col] = Σ_p op(A)[row][p] · op(B)[p][col]; transA/transB (0 or 1) pick the stored layout. */
export function matmulKernel(this: KernelContext, a: number[], b: number[]): number {
  const row = Math.floor(this.thread.x / this.constants.N);
  const col = this.thread.x % this.constants.N;
  let sum = 0;
  for (let p = 0; p < this.constants.K; p++) {
    let av = a[row * this.constants.K + p];
    if (this.constants.transA === 1) av = a[p * this.constants.M + row];
    let bv = b[p * this.constants.N + col];
    if (this.constants.transB === 1) bv = b[col * this.constants.K + p];
    sum += av * bv;
  }
  return sum;
}

/** y[row][oc], row = (b·OH + oy)·OW + ox: the convolution at one output position and channel. */
export function conv2dForwardKernel(this: KernelContext, x: number[], f: number[]): number {
  const row = Math.floor(this.thread.x / this.constants.OC);
  const oc = this.thread.x % this.constants.OC;
  const ox = row % this.constants.OW;
  const rest = Math.floor(row / this.constants.OW);
  const oy = rest % this.constants.OH;
  const b = Math.floor(rest / this.constants.OH);
  let sum = 0;
  for (let ky = 0; ky < this.constants.KH; ky++) {
    for (let kx = 0; kx < this.constants.KW; kx++) {
      const iy = oy * this.constants.SH - this.constants.PT + ky * this.constants.DH;
      const ix = ox * this.constants.SW - this.constants.PL + kx * this.constants.DW;
      if (iy >= 0 && iy < this.constants.H && ix >= 0 && ix < this.constants.W) {
        for (let ch = 0; ch < this.constants.C; ch++) {
          sum +=
            x[((b * this.constants.H + iy) * this.constants.W + ix) * this.constants.C + ch] *
            f[((ky * this.constants.KW + kx) * this.constants.C + ch) * this.constants.OC + oc];
        }
      }
    }
  }
  return sum;
}

/** dx[row][ch], row = (b·H + iy)·W + ix: every output position whose window covers the pixel. */
export function conv2dInputGradKernel(this: KernelContext, dy: number[], f: number[]): number {
  const row = Math.floor(this.thread.x / this.constants.C);
  const ch = this.thread.x % this.constants.C;
  const ix = row % this.constants.W;
  const rest = Math.floor(row / this.constants.W);
  const iy = rest % this.constants.H;
  const b = Math.floor(rest / this.constants.H);
  let sum = 0;
  for (let ky = 0; ky < this.constants.KH; ky++) {
    for (let kx = 0; kx < this.constants.KW; kx++) {
      const ny = iy + this.constants.PT - ky * this.constants.DH;
      const nx = ix + this.constants.PL - kx * this.constants.DW;
      if (ny >= 0 && nx >= 0 && ny % this.constants.SH === 0 && nx % this.constants.SW === 0) {
        const oy = ny / this.constants.SH;
        const ox = nx / this.constants.SW;
        if (oy < this.constants.OH && ox < this.constants.OW) {
          for (let oc = 0; oc < this.constants.OC; oc++) {
            sum +=
              dy[((b * this.constants.OH + oy) * this.constants.OW + ox) * this.constants.OC + oc] *
              f[((ky * this.constants.KW + kx) * this.constants.C + ch) * this.constants.OC + oc];
          }
        }
      }
    }
  }
  return sum;
}

/** df[row][oc], row = (ky·KW + kx)·C + ch: the tap's input times the gradient, over every position. */
export function conv2dFilterGradKernel(this: KernelContext, x: number[], dy: number[]): number {
  const row = Math.floor(this.thread.x / this.constants.OC);
  const oc = this.thread.x % this.constants.OC;
  const ch = row % this.constants.C;
  const rest = Math.floor(row / this.constants.C);
  const kx = rest % this.constants.KW;
  const ky = Math.floor(rest / this.constants.KW);
  let sum = 0;
  for (let b = 0; b < this.constants.B; b++) {
    for (let oy = 0; oy < this.constants.OH; oy++) {
      for (let ox = 0; ox < this.constants.OW; ox++) {
        const iy = oy * this.constants.SH - this.constants.PT + ky * this.constants.DH;
        const ix = ox * this.constants.SW - this.constants.PL + kx * this.constants.DW;
        if (iy >= 0 && iy < this.constants.H && ix >= 0 && ix < this.constants.W) {
          sum +=
            x[((b * this.constants.H + iy) * this.constants.W + ix) * this.constants.C + ch] *
            dy[((b * this.constants.OH + oy) * this.constants.OW + ox) * this.constants.OC + oc];
        }
      }
    }
  }
  return sum;
}
