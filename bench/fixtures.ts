/** Shared benchmark inputs. */
import { loadMnist, type StateDict } from '../src/node/index.js';
import { mnistModel } from '../src/cli/models.js';

export const mnistMlp = (seed = 42) => mnistModel('mlp', seed);

/** The state a checkpoint of a trained MNIST MLP holds: weights, Adam state, history. */
export async function trainedMlpState(epochs = 2): Promise<StateDict> {
  const { xTrain, yTrain } = await loadMnist({ shape: 'flat' });
  const model = mnistMlp();
  await model.fit(xTrain, yTrain, { epochs, batchSize: 32, verbose: 0 });
  return { model: model.stateDict(), optimizer: model.optimizer!.stateDict(), history: model.history.stateDict() };
}
