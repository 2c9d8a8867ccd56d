# placeholder: coordinate descent kernels are being written
