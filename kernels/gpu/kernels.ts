/**
 * The heavy kernels as gpu.js kernel functions. gpu.js translates each function's source
 * (to GLSL, WGSL, WebAssembly or plain JavaScript), so the bodies stay in the subset it
 * understands: loops over constant bounds, arithmetic on flat arrays, `this.thread` for the
 * output coordinate (x = column, y = row) and `this.constants` for every size (read in place:
 * gpu.js cannot alias `this.constants` to a local).
 */

/** What gpu.js puts on `this` inside a kernel. */
export interface KernelContext {
  thread: { x: number; y: number };
  constants: Record<string, number>;
}

/** C[y][x] = Σ_p op(A)[y][p] · op(B)[p][x]; transA/transB (0 or 1) pick the stored layout. */
export function matmulKernel(this: KernelContext, a: number[], b: number[]): number {
  let sum = 0;
  for (let p = 0; p < this.constants.K; p++) {
    let av = a[this.thread.y * this.constants.K + p];
    if (this.constants.transA === 1) av = a[p * this.constants.M + this.thread.y];
    let bv = b[p * this.constants.N + this.thread.x];
    if (this.constants.transB === 1) bv = b[this.thread.x * this.constants.K + p];
    sum += av * bv;
  }
  return sum;
}

/** y[row][oc], row = (b·OH + oy)·OW + ox: the convolution at one output position. */
export function conv2dForwardKernel(this: KernelContext, x: number[], f: number[]): number {
  const ox = this.thread.y % this.constants.OW;
  const rest = Math.floor(this.thread.y / this.constants.OW);
  const oy = rest % this.constants.OH;
  const b = Math.floor(rest / this.constants.OH);
  let sum = 0;
  for (let ky = 0; ky < this.constants.KH; ky++) {
    for (let kx = 0; kx < this.constants.KW; kx++) {
      const iy = oy * this.constants.SH - this.constants.PT + ky;
      const ix = ox * this.constants.SW - this.constants.PL + kx;
      if (iy >= 0 && iy < this.constants.H && ix >= 0 && ix < this.constants.W) {
        for (let ch = 0; ch < this.constants.C; ch++) {
          sum += x[((b * this.constants.H + iy) * this.constants.W + ix) * this.constants.C + ch] * f[((ky * this.constants.KW + kx) * this.constants.C + ch) * this.constants.OC + this.thread.x];
        }
      }
    }
  }
  return sum;
}

/** dx[pixel][ch], pixel = (b·H + iy)·W + ix: every output position whose window covers it. */
export function conv2dInputGradKernel(this: KernelContext, dy: number[], f: number[]): number {
  const ix = this.thread.y % this.constants.W;
  const rest = Math.floor(this.thread.y / this.constants.W);
  const iy = rest % this.constants.H;
  const b = Math.floor(rest / this.constants.H);
  let sum = 0;
  for (let ky = 0; ky < this.constants.KH; ky++) {
    for (let kx = 0; kx < this.constants.KW; kx++) {
      const ny = iy + this.constants.PT - ky;
      const nx = ix + this.constants.PL - kx;
      if (ny >= 0 && nx >= 0 && ny % this.constants.SH === 0 && nx % this.constants.SW === 0) {
        const oy = ny / this.constants.SH;
        const ox = nx / this.constants.SW;
        if (oy < this.constants.OH && ox < this.constants.OW) {
          for (let oc = 0; oc < this.constants.OC; oc++) {
            sum += dy[((b * this.constants.OH + oy) * this.constants.OW + ox) * this.constants.OC + oc] * f[((ky * this.constants.KW + kx) * this.constants.C + this.thread.x) * this.constants.OC + oc];
          }
        }
      }
    }
  }
  return sum;
}

/** df[tap][oc], tap = (ky·KW + kx)·C + ch: the tap's input times the gradient, over every position. */
export function conv2dFilterGradKernel(this: KernelContext, x: number[], dy: number[]): number {
  const ch = this.thread.y % this.constants.C;
  const rest = Math.floor(this.thread.y / this.constants.C);
  const kx = rest % this.constants.KW;
  const ky = Math.floor(rest / this.constants.KW);
  let sum = 0;
  for (let b = 0; b < this.constants.B; b++) {
    for (let oy = 0; oy < this.constants.OH; oy++) {
      for (let ox = 0; ox < this.constants.OW; ox++) {
        const iy = oy * this.constants.SH - this.constants.PT + ky;
        const ix = ox * this.constants.SW - this.constants.PL + kx;
        if (iy >= 0 && iy < this.constants.H && ix >= 0 && ix < this.constants.W) {
          sum += x[((b * this.constants.H + iy) * this.constants.W + ix) * this.constants.C + ch] * dy[((b * this.constants.OH + oy) * this.constants.OW + ox) * this.constants.OC + this.thread.x];
        }
      }
    }
  }
  return sum;
}
