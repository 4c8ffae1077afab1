func.func @f(%x: tensor<-4x3xf32>) -> tensor<-4x3xf32> {
  func.return %x : tensor<-4x3xf32>
}
