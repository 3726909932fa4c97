// (engine API for the cross kernels: being written)
export {};
