package gin

func Default() {}
