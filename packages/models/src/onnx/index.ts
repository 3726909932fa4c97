// Public surface of the ONNX exporter. The graph builder stays internal.
export { decodeModelProto, encodeModelProto } from './proto.js';
export type { ModelProto, GraphProto, NodeProto, TensorProto, AttributeProto, ValueInfoProto } from './proto.js';
export { readParam, type ParamLayoutEntry } from './params.js';
export { ONNX_IR_VERSION, ONNX_OPSET, PRODUCER_NAME } from './builder.js';
export * from './lstm-graph.js';
export * from './graph-graph.js';
export * from './metadata.js';
