"""The peer implementation: the experiments' CNN in plain PyTorch, trained with `torch.optim.SGD` and
`torch.optim.lr_scheduler.OneCycleLR` at its defaults (cosine, 30% warm-up, momentum 0.95 -> 0.85,
div_factor 25, final_div_factor 1e4), stepped once per batch, as its documentation shows.

Same data (the loaded, standardized arrays), same layers, same batch size and peak rate as the
`onecycle` arms; weights start from PyTorch's own initializers.
"""

import time

import numpy as np


def _cnn(torch, input_shape, num_classes):
    """The layers of `onecycle.experiments.models.cnn`: conv blocks doubling the filters until the
    feature map is at most 8 pixels wide, Dense(128), dropout 0.5, the class layer."""
    nn = torch.nn
    size, channels, filters = input_shape[0], input_shape[2], 32
    layers = []
    while True:
        layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        size, channels, filters = size // 2, filters, filters * 2
        if size <= 8:
            break
    layers += [
        nn.Flatten(),
        nn.Linear(channels * size * size, 128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, num_classes),
    ]
    return nn.Sequential(*layers)


def _accuracy(torch, model, x, y, batch_size=1024):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            correct += (
                (model(x[start : start + batch_size]).argmax(1) == y[start : start + batch_size]).sum().item()
            )
    model.train()
    return correct / len(x)


def train(dataset, *, max_lr, epochs, batch_size, seed):
    """Train the peer; returns per-epoch records (`epoch`, `loss`, `val_metric`, `wall_time`, `learning_rate`)
    and the test accuracy, shaped like the runs of `onecycle compare`."""
    import torch

    torch.manual_seed(seed)
    to_nchw = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))
    x_train, x_val, x_test = (to_nchw(x) for x in (dataset.x_train, dataset.x_val, dataset.x_test))
    y_train, y_val, y_test = (
        torch.from_numpy(y.astype(np.int64)) for y in (dataset.y_train, dataset.y_val, dataset.y_test)
    )
    model = _cnn(torch, dataset.x_train.shape[1:], dataset.num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9)
    steps = -(-len(x_train) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=epochs * steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    records, start = [], time.perf_counter()
    for epoch in range(epochs):
        order, total = torch.randperm(len(x_train), generator=generator), 0.0
        for i in range(steps):
            batch = order[i * batch_size : (i + 1) * batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
        records.append(
            {
                "epoch": epoch + 1,
                "loss": total / steps,
                "val_metric": _accuracy(torch, model, x_val, y_val),
                "learning_rate": optimizer.param_groups[0]["lr"],
                "wall_time": time.perf_counter() - start,
            }
        )
    return records, _accuracy(torch, model, x_test, y_test)
