/** `model.summary()`: Keras's table of layers, output shapes and parameter counts (and, for a graph, each layer's inputs). */
import type { Layer, SampleShape } from '../nn/layer.js';

export interface SummaryRow {
  layer: Layer;
  /** Null while the layer is not built; 'multiple' for a shared layer whose calls give different shapes (as Keras). */
  outputShapes: SampleShape[] | null | 'multiple';
  params: number;
  /** The tensors a graph's call reads, `dense[0][0]`. */
  connectedTo?: string[];
}

const shapeText = (shapes: SummaryRow['outputShapes']): string =>
  shapes === null
    ? '(unbuilt)'
    : shapes === 'multiple'
      ? 'multiple'
      : shapes.map((s) => `(None, ${s.join(', ')})`).join(', ');

export function printSummary(model: Layer, rows: SummaryRow[], graph: boolean, write: (line: string) => void): void {
  const widths = graph ? [34, 24, 12, 30] : [34, 24, 12];
  const width = widths.reduce((a, b) => a + b, 0) - 2;
  const line = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]))
      .join('')
      .trimEnd();
  write(`Model: "${model.name}"`);
  write('_'.repeat(width));
  write(line(['Layer (type)', 'Output Shape', 'Param #', ...(graph ? ['Connected to'] : [])]));
  write('='.repeat(width));
  rows.forEach((r, i) => {
    const inputs = r.connectedTo ?? [];
    const first = [
      `${r.layer.name} (${r.layer.className})`,
      shapeText(r.outputShapes),
      String(r.params),
      ...(graph ? [inputs[0] ?? '-'] : []),
    ];
    write(line(first));
    // Keras lists a merge's further inputs one per line under the first.
    for (const more of inputs.slice(1)) write(line(['', '', '', more]));
    if (i < rows.length - 1) write('_'.repeat(width));
  });
  write('='.repeat(width));
  const total = model.countParams();
  const trainable = model.trainableWeights().reduce((n, [, w]) => n + w.size, 0);
  write(`Total params: ${total.toLocaleString('en-US')}`);
  write(`Trainable params: ${trainable.toLocaleString('en-US')}`);
  write(`Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`);
}
