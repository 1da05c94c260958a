/** MNIST CNN: conv 8 3×3 relu, pool 2, conv 16 3×3 relu, pool 2, dense 10 softmax.  `npx tsx examples/mnist-cnn.ts [epochs]` */
import { Sequential, Conv2D, MaxPool2D, Flatten, Dense, Adam, loadMnist } from '../src/node/index.js';

const epochs = Number(process.argv[2] ?? 2);
const { xTrain, yTrain, xTest, yTest } = await loadMnist({ shape: 'image' });
const model = new Sequential(
  [
    new Conv2D({ filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu', inputShape: [28, 28, 1] }),
    new MaxPool2D({ poolSize: 2 }),
    new Conv2D({ filters: 16, kernelSize: 3, padding: 'valid', activation: 'relu' }),
    new MaxPool2D({ poolSize: 2 }),
    new Flatten(),
    new Dense({ units: 10, activation: 'softmax' }),
  ],
  { seed: Number(process.env.SEED ?? 42) },
);
model.compile({ optimizer: new Adam({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
model.summary();
await model.fit(xTrain, yTrain, { epochs, batchSize: 32, validationData: [xTest, yTest] });
console.log('test', await model.evaluate(xTest, yTest));
