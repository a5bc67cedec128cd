"""Training FLOPs per image, counted two ways: from the train step's graph, and analytically.

Counted (a cross-check): the trainer's own ``train_step`` is
traced as a ``tf.function`` at the benchmark's batch and image size, and TF's
profiler (``tf.compat.v1.profiler``, the per-op "flops" statistics TF registers
for Conv2D, Conv2DBackpropInput/Filter, MatMul, element-wise ops ...) is summed
over the ops that actually run: the ancestors of the step's outputs and of its
variable updates. The rest of the traced graph is dead code that the function
runtime prunes, e.g. the gradients a GAN's discriminator tape would push back
into the generator, which nothing reads (on pix2pix at 128 px that dead code is
a quarter of the graph's FLOPs). So the count includes the forward pass, the
backward pass exactly as TF differentiates it, BatchNorm arithmetic and the
optimizer update; ops TF registers no statistics for (FusedBatchNorm,
activations, resizes) count as zero. One known bias of TF's rules: the
backprop formulas use the padded input size, so the PatchGAN's stride-1
convolutions count ~1.4x their forward cost.

Analytic (the model FLOPs the fraction of peak uses): 2 * kh * kw * Cin * Cout
per output pixel of every convolution (per input pixel for a transposed one),
summed over one forward pass of a network. A backward pass costs one forward
for the input gradients plus one for the weight gradients. Per training step:
the regression and classification networks 3 forwards; the GAN's generator 3
(forward, both gradients) and its discriminator 7: two forwards (real and
generated pair), input and weight gradients of both for D's loss (4), and the
input gradients of the generated pair's pass again for G's loss (1).
"""

import keras
import tensorflow as tf

COUNTED_METHOD = (
    "counted: TF profiler (tf.compat.v1.profiler float_ops) over the ops of one traced "
    "train_step that run (ancestors of its outputs and variable updates): forward, backward, "
    "BatchNorm and optimizer arithmetic; divided by the batch size"
)
ANALYTIC_METHOD = (
    "analytic (model FLOPs): forward convolution FLOPs (2*kh*kw*Cin*Cout per output pixel; "
    "per input pixel for transposed convs) x 3 for a network trained by the step (forward, "
    "input and weight gradients); the GAN step: G x 3, D x 7 (forward on the real and the "
    "generated pair, both gradients of both for D's loss, input gradients of the generated "
    "pair's pass again for G's loss)"
)
GAN_DISCRIMINATOR_FORWARDS = 7  # see ANALYTIC_METHOD


def _live_op_names(graph):
    """Names of the ops a call of the function graph executes: ancestors of its outputs
    and of its control outputs (the variable updates and other side effects)."""
    sinks = [t.op for t in graph.outputs] + list(graph.control_outputs)
    live, stack = set(), list(sinks)
    while stack:
        op = stack.pop()
        if op.name in live:
            continue
        live.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return live


def _profiled_flops(graph):
    """{op name: float ops} of every op TF's profiler has a statistic for."""
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = (
        builder(builder.float_operation()).with_empty_output().with_max_depth(1_000_000).build()
    )
    tree = tf.compat.v1.profiler.profile(graph=graph, cmd="scope", options=options)
    flops, stack = {}, list(tree.children)
    while stack:
        node = stack.pop()
        flops[node.name] = node.float_ops
        stack.extend(node.children)
    return flops


def counted_train_flops(trainer, batch_size, image_size):
    """FLOPs per image of one training step of a compiled, built trainer (see module doc).

    Call it after the trainer has run at least one step (fit builds the metrics
    and optimizer variables). The trainer's weights are not changed: the step
    is traced, never run.

    Returns:
        dict: flops_per_image, and by_op_type {op type: FLOPs per image} of the
        five largest op types.
    """
    l_spec = tf.TensorSpec((batch_size, image_size, image_size, 1), tf.float32)
    ab_spec = tf.TensorSpec((batch_size, image_size, image_size, 2), tf.float32)

    @tf.function
    def step(l_norm, ab_norm):
        return trainer.train_step((l_norm, ab_norm))

    graph = step.get_concrete_function(l_spec, ab_spec).graph
    live = _live_op_names(graph)
    types = {op.name: op.type for op in graph.get_operations()}
    total, by_type = 0, {}
    for name, flops in _profiled_flops(graph).items():
        if name in live and flops:
            total += flops
            by_type[types.get(name, "?")] = by_type.get(types.get(name, "?"), 0) + flops
    largest = sorted(by_type.items(), key=lambda item: -item[1])[:5]
    return {
        "flops_per_image": total / batch_size,
        "by_op_type": {name: flops / batch_size for name, flops in largest},
    }


def _conv_flops(layer):
    """Forward FLOPs of one image through a Conv2D or Conv2DTranspose layer (static shapes)."""
    kernel = layer.kernel.shape  # (kh, kw, Cin, Cout) for Conv2D; (kh, kw, Cout, Cin) transposed
    per_pixel = 2 * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    if isinstance(layer, keras.layers.Conv2DTranspose):
        _, height, width, _ = layer.input.shape  # each input pixel scatters one kernel
    else:
        _, height, width, _ = layer.output.shape
    return per_pixel * height * width


def forward_conv_flops(network, input_shapes):
    """Forward convolution FLOPs of one image through ``network`` at fixed input shapes.

    Args:
        network: a functional keras.Model (no nested models).
        input_shapes: one (H, W, C) per network input.
    """
    inputs = [keras.Input(shape, batch_size=1) for shape in input_shapes]
    static = keras.models.clone_model(
        network, input_tensors=inputs if len(inputs) > 1 else inputs[0]
    )
    return sum(
        _conv_flops(layer)
        for layer in static.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
    )


def analytic_train_flops(trainer, image_size):
    """The convolution FLOPs of one training step per image (module doc: analytic)."""
    size = image_size
    flops = 3 * forward_conv_flops(trainer.network, [(size, size, 1)])
    discriminator = getattr(trainer, "discriminator", None)
    if discriminator is not None:
        d_forward = forward_conv_flops(discriminator, [(size, size, 1), (size, size, 2)])
        flops += GAN_DISCRIMINATOR_FORWARDS * d_forward
    return flops
