/** Shared benchmark inputs. */
import { Adam, Dense, Sequential, loadMnist, type StateDict } from '../src/index.js';

export function mnistMlp(seed = 42): Sequential {
  const model = new Sequential([
    new Dense({ units: 128, activation: 'relu', inputShape: [784] }),
    new Dense({ units: 10, activation: 'softmax' }),
  ], { seed });
  model.compile({ optimizer: new Adam({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** The state a checkpoint of a trained MNIST MLP holds: weights, Adam state, history. */
export async function trainedMlpState(epochs = 2): Promise<StateDict> {
  const { xTrain, yTrain } = loadMnist({ shape: 'flat' });
  const model = mnistMlp();
  await model.fit(xTrain, yTrain, { epochs, batchSize: 32, verbose: 0 });
  return { model: model.stateDict(), optimizer: model.optimizer!.stateDict(), history: model.history.stateDict() };
}
