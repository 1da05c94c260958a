import { Adam } from '../optim/index.js';
import { Sequential } from '../model/sequential.js';
import { Dense } from '../nn/layers/dense.js';
import { Conv2D } from '../nn/layers/conv2d.js';
import { Flatten } from '../nn/layers/simple.js';
import { MaxPool2D } from '../nn/layers/pooling.js';

export type MnistModelKind = 'mlp' | 'cnn';

/** The built-in MNIST models: MLP 784-128-10, and a small CNN (conv 8, pool, conv 16, pool, dense 10). */
export function mnistModel(kind: MnistModelKind, seed: number): Sequential {
  const layers =
    kind === 'mlp'
      ? [
          new Dense({ units: 128, activation: 'relu', inputShape: [784] }),
          new Dense({ units: 10, activation: 'softmax' }),
        ]
      : [
          new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
          new MaxPool2D({ poolSize: 2 }),
          new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }),
          new MaxPool2D({ poolSize: 2 }),
          new Flatten(),
          new Dense({ units: 10, activation: 'softmax' }),
        ];
  const model = new Sequential(layers, { seed, name: `mnist_${kind}` });
  model.compile({
    optimizer: new Adam({ learningRate: 1e-3 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}
