// (engine API for the cluster kernels: being written)
export {};
