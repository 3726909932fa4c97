// (engine API for the trend kernels: being written)
export {};
