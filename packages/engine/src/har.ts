// (engine API for the har kernels: being written)
export {};
