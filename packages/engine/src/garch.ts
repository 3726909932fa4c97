// (engine API for the garch kernels: being written)
export {};
