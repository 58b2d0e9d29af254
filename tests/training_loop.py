"""A few Adam steps on one batch, for tests that check a model built from new layers learns."""
import tinygrad_cnn as tc


def adam_losses(model, loss_of_model, steps: int, lr: float) -> list[float]:
    """Run `steps` Adam steps minimising loss_of_model(model); return every step's loss."""
    opt = tc.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_of_model(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
