// (engine API for the rolling kernels: being written)
export {};
