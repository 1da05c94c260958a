/**
 * A two-layer network learns XOR-like spirals with nothing but tensors, autograd and a
 * hand-written SGD step: the whole engine in thirty lines.  `npm start`
 */
import {
  Random,
  tensor,
  randn,
  matmul,
  add,
  relu,
  logSoftmax,
  mul,
  sum,
  mean,
  noGrad,
  oneHot,
  getBackend,
  Tensor,
} from '../src/node/index.js';

const rng = new Random(42);
const n = 400;
const xs: number[] = [];
const labels: number[] = [];
for (let i = 0; i < n; i++) {
  const label = i % 2;
  const r = rng.uniform() * 4;
  const angle = r * 1.6 + label * Math.PI + rng.normal(0, 0.15);
  xs.push((r * Math.cos(angle)) / 4, (r * Math.sin(angle)) / 4);
  labels.push(label);
}
const x = tensor(xs, [n, 2]);
const y = oneHot(labels, 2);

const params = [
  randn([2, 32], rng, true),
  tensor(new Float32Array(32), [32], true),
  randn([32, 2], rng, true),
  tensor(new Float32Array(2), [2], true),
];
const [w1, b1, w2, b2] = params;
const forward = (input: Tensor) => add(matmul(relu(add(matmul(input, w1), b1)), w2), b2);

console.log(`backend: ${getBackend().detail}`);
for (let step = 0; step <= 600; step++) {
  const logits = forward(x);
  const loss = mean(sum(mul(logSoftmax(logits), y), 1)).neg();
  params.forEach((p) => p.zeroGrad());
  loss.backward();
  noGrad(() =>
    params.forEach((p) => {
      for (let i = 0; i < p.size; i++) p.data[i] -= 0.5 * p.grad!.data[i];
    }),
  );
  if (step % 100 === 0) {
    const predicted = noGrad(() => forward(x)).data;
    let correct = 0;
    for (let i = 0; i < n; i++) correct += Number(predicted[2 * i + 1] > predicted[2 * i] === (labels[i] === 1));
    console.log(
      `step ${String(step).padStart(3)}  loss ${loss.item().toFixed(4)}  accuracy ${((correct / n) * 100).toFixed(1)}%`,
    );
  }
}
