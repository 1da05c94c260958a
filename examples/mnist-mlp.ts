/** MNIST MLP, 784-128 relu-10 softmax, Adam 1e-3, batch 32.  `npx tsx examples/mnist-mlp.ts [epochs]` */
import { Sequential, Dense, Adam, loadMnist } from '../src/node/index.js';

const epochs = Number(process.argv[2] ?? 5);
const { xTrain, yTrain, xTest, yTest } = await loadMnist({ shape: 'flat' });
const model = new Sequential(
  [new Dense({ units: 128, activation: 'relu', inputShape: [784] }), new Dense({ units: 10, activation: 'softmax' })],
  { seed: 42 },
);
model.compile({ optimizer: new Adam({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
model.summary();
await model.fit(xTrain, yTrain, { epochs, batchSize: 32, validationData: [xTest, yTest] });
console.log('test', await model.evaluate(xTest, yTest));
