import torch
from torch import nn


class _KerasRNN(nn.Module):
    """Keras's LSTM/GRU: batch-first sequences, zero initial state, the last output or every one."""
    def __init__(self, rnn, return_sequences):
        super().__init__()
        self.rnn, self.return_sequences = rnn, return_sequences

    def forward(self, x):
        y, _ = self.rnn(x)
        return y if self.return_sequences else y[:, -1]


def KerasLSTM(input_size, units, return_sequences=False, bias=True):
    return _KerasRNN(nn.LSTM(input_size, units, batch_first=True, bias=bias), return_sequences)


def KerasGRU(input_size, units, return_sequences=False, bias=True):
    return _KerasRNN(nn.GRU(input_size, units, batch_first=True, bias=bias), return_sequences)


class KerasReshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


# input: as Waypoint takes it
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block_0 = nn.Sequential(nn.Linear(4, 6, bias=True), nn.Tanh())
        self.block_1 = nn.Sequential(nn.Linear(6, 6, bias=True))
        self.embed = nn.Sequential(nn.Embedding(10, 2))
        self.flat_ids = nn.Sequential(nn.Flatten())
        self.embedded = nn.Sequential(nn.Linear(6, 6, bias=True))
        self.hidden = nn.Sequential(nn.Linear(24, 8, bias=True), nn.ReLU())
        self.kind = nn.Sequential(nn.Linear(8, 3, bias=True), nn.Softmax(dim=-1))
        self.score = nn.Sequential(nn.Linear(8, 1, bias=True))

    def forward(self, features, ids):
        x0 = self.block_0(features)
        x1 = self.block_1(x0)
        x2 = self.embed(ids)
        x3 = self.flat_ids(x2)
        x4 = self.embedded(x3)
        x5 = x1 * x4
        x6 = (x1 + x4) / 2
        x7 = torch.maximum(x1, x4)
        x8 = torch.minimum(x1, x4)
        x9 = torch.cat([x5, x6, x7, x8], dim=1)
        x10 = self.hidden(x9)
        x11 = self.kind(x10)
        x12 = self.score(x10)
        return x11, x12


model = Model()
