import { averageCheckpoints } from '../model/average.js';
import { type Command, UsageError } from './args.js';
import { checkOutputs } from './output.js';

export const average: Command = {
  name: 'average',
  title: 'average checkpoints into one model',
  summary:
    "Average the weights of several model files of one architecture (checkpoint averaging): every file verified first, the mean taken entry by entry in float64 and rounded once, the same bits in any order of the files. BatchNormalization's statistics are averaged too; the optimizer state is not carried.",
  usage: 'average FILE FILE… --out AVG.wpt [--overwrite]',
  options: {
    out: { type: 'string', help: 'the averaged model file to write' },
    overwrite: { type: 'boolean', default: false, help: 'replace an existing output file (never an input)' },
  },
  async run(positionals, v) {
    if (positionals.length < 2) throw new UsageError('average: give at least two model files');
    if (typeof v.out !== 'string') throw new UsageError('average: --out AVG.wpt is required');
    for (const file of positionals) checkOutputs('average', file, [v.out], v.overwrite === true);
    const model = await averageCheckpoints(positionals, { out: v.out });
    console.log(
      `wrote ${v.out} (the mean of ${positionals.length} files, ${model.countParams().toLocaleString('en-US')} weights)`,
    );
  },
};
