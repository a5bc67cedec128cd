"""float16 weights for a float32 .tflite file, without TensorFlow (the web page's smaller model).

Does to the file what the TFLite converter's float16 variant
(keras_colorize.serving.tflite, ``supported_types = [tf.float16]``) does to a
SavedModel: every float32 constant tensor is stored as float16, and a
DEQUANTIZE op at the start of the graph turns it back into the float32
tensor its consumers read, so the arithmetic stays float32 and the file is
half the size. Working on the .tflite itself (its flatbuffer, through the
schema that ai_edge_litert ships) takes a second; converting the .keras model
again takes TensorFlow and about a minute on a busy 2-core CPU. The
inputs, outputs and signatures are untouched.
"""

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"


def _opcode_index(model, builtin):
    """The index of ``builtin`` in the model's operator codes, appended if missing."""
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)  # the int8 field older readers use
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def float16_weights(tflite_bytes):
    """float32 .tflite bytes -> the same model with float16 constants; returns (bytes, count).

    ``count`` is the number of constant tensors converted.
    """
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite_bytes, 0))
    dequantize = _opcode_index(model, schema.BuiltinOperator.DEQUANTIZE)
    halved = set()  # buffers already stored as float16 (tensors may share one)
    count = 0
    for graph in model.subgraphs:
        replaced = {}  # float32 constant tensor -> the DEQUANTIZE output that replaces it
        front = []
        for index, tensor in enumerate(list(graph.tensors)):
            data = model.buffers[tensor.buffer].data if tensor.buffer else None
            if tensor.type != schema.TensorType.FLOAT32 or data is None or len(data) == 0:
                continue
            if tensor.buffer not in halved:
                values = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float32)
                model.buffers[tensor.buffer].data = np.frombuffer(
                    values.astype(np.float16).tobytes(), np.uint8
                )
                halved.add(tensor.buffer)
            tensor.type = schema.TensorType.FLOAT16
            restored = schema.TensorT()
            restored.shape = tensor.shape
            restored.shapeSignature = tensor.shapeSignature
            restored.type = schema.TensorType.FLOAT32
            restored.name = (tensor.name or b"") + b"/dequantize"
            model.buffers.append(schema.BufferT())  # empty: computed at run time
            restored.buffer = len(model.buffers) - 1
            graph.tensors.append(restored)
            replaced[index] = len(graph.tensors) - 1
            op = schema.OperatorT()
            op.opcodeIndex = dequantize
            op.inputs = [index]
            op.outputs = [replaced[index]]
            front.append(op)
            count += 1
        for op in graph.operators:
            if op.inputs is not None:
                op.inputs = [replaced.get(i, i) if i >= 0 else i for i in op.inputs]
        graph.operators = front + list(graph.operators)
    builder = flatbuffers.Builder(len(tflite_bytes) // 2 + 1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output()), count
