//! The commerce attributes: cart (`cartStatus`), purchase and viewed product. Their page
//! and history shapes use the same field names ("flat" in SPEC §3.1).

use crate::error::Errors;
use crate::read::{array, ObjReader};
use crate::scalar::{Field, Text};
use crate::write::{key, JsonOut, WriteJson};

use crate::tape::Node;

/// One product as a cart, a purchase or a product view reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Product {
    pub name: Field<Text>,
    pub category: Field<Text>,
    pub sku: Field<Text>,
    pub price: Field<Text>,
    pub status_in_stock: Field<Text>,
    pub quantity_in_stock: Field<Text>,
}

impl Product {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Product> {
        let mut r = ObjReader::new(json, errors)?;
        let product = Product {
            name: Field::text(&mut r, "name", errors),
            category: Field::text(&mut r, "category", errors),
            sku: Field::text(&mut r, "sku", errors),
            price: Field::text(&mut r, "price", errors),
            status_in_stock: Field::flag(&mut r, "statusInStock", errors),
            quantity_in_stock: Field::text(&mut r, "quantityInStock", errors),
        };
        r.finish(
            errors,
            "`name`, `category`, `sku`, `price`, `statusInStock` or `quantityInStock`",
        );
        Some(product)
    }
}

/// One line of a product list: `{product: {...}, quantity}`. The product is boxed: a line
/// is then 40 bytes instead of 168, and building a list moves lines, not products.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductLine {
    pub product: Field<Box<Product>>,
    pub quantity: Field<Text>,
}

impl ProductLine {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<ProductLine> {
        let mut r = ObjReader::new(json, errors)?;
        let line = ProductLine {
            product: Field::read(&mut r, &["product"], errors, |j, e| {
                Product::parse(j, e).map(Box::new)
            }),
            quantity: Field::text(&mut r, "quantity", errors),
        };
        r.finish(errors, "`product` or `quantity`");
        Some(line)
    }
}

pub(crate) fn products(r: &mut ObjReader<'_, '_>, errors: &mut Errors) -> Field<Vec<ProductLine>> {
    Field::read(r, &["products"], errors, |j, e| {
        array(j, e, ProductLine::parse)
    })
}

/// `cart` on the page, `cartStatus` in history: the cart as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cart {
    pub total: Field<Text>,
    pub currency: Field<Text>,
    pub num_items: Field<Text>,
    pub products: Field<Vec<ProductLine>>,
}

impl Cart {
    pub(crate) const FIELDS: &'static str = "`total`, `currency`, `numItems` or `products`";

    pub(crate) fn read(r: &mut ObjReader<'_, '_>, errors: &mut Errors) -> Cart {
        Cart {
            total: Field::text(r, "total", errors),
            currency: Field::text_any(r, &["currency", "Currency"], errors),
            num_items: Field::text(r, "numItems", errors),
            products: products(r, errors),
        }
    }

    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Cart> {
        let mut r = ObjReader::new(json, errors)?;
        let cart = Cart::read(&mut r, errors);
        r.finish(errors, Cart::FIELDS);
        Some(cart)
    }
}

/// `purchase`: a completed order, with the cart it emptied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Purchase {
    pub total: Field<Text>,
    pub currency: Field<Text>,
    pub order_id: Field<Text>,
    /// Boxed, so that a purchase is not the largest attribute: every `Sde` is as large as
    /// its largest kind, and attributes are moved several times on their way to the store.
    pub cart: Field<Box<Cart>>,
}

impl Purchase {
    pub(crate) const FIELDS: &'static str = "`total`, `currency`, `orderId` or `cart`";

    pub(crate) fn read(r: &mut ObjReader<'_, '_>, errors: &mut Errors) -> Purchase {
        Purchase {
            total: Field::text(r, "total", errors),
            currency: Field::text_any(r, &["currency", "Currency"], errors),
            order_id: Field::text(r, "orderId", errors),
            cart: Field::read(r, &["cart"], errors, |j, e| Cart::parse(j, e).map(Box::new)),
        }
    }
}

/// `prodView` on the page, `viewedProduct` in history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewedProduct {
    pub currency: Field<Text>,
    pub products: Field<Vec<ProductLine>>,
}

impl ViewedProduct {
    pub(crate) const FIELDS: &'static str = "`currency` or `products`";

    pub(crate) fn read(r: &mut ObjReader<'_, '_>, errors: &mut Errors) -> ViewedProduct {
        ViewedProduct {
            currency: Field::text_any(r, &["currency", "Currency"], errors),
            products: products(r, errors),
        }
    }
}

impl WriteJson for Product {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.name.write_member(key!("name"), o);
            self.category.write_member(key!("category"), o);
            self.sku.write_member(key!("sku"), o);
            self.price.write_member(key!("price"), o);
            self.status_in_stock.write_member(key!("statusInStock"), o);
            self.quantity_in_stock
                .write_member(key!("quantityInStock"), o);
        });
    }
}

impl WriteJson for ProductLine {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.product.write_member(key!("product"), o);
            self.quantity.write_member(key!("quantity"), o);
        });
    }
}

impl Cart {
    /// The history members, next to the time stamps.
    pub(crate) fn members(&self, o: &mut JsonOut<'_>) {
        self.total.write_member(key!("total"), o);
        self.currency.write_member(key!("currency"), o);
        self.num_items.write_member(key!("numItems"), o);
        self.products.write_member(key!("products"), o);
    }
}

impl WriteJson for Cart {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| self.members(o));
    }
}

impl Purchase {
    /// The history members, next to the time stamps.
    pub(crate) fn members(&self, o: &mut JsonOut<'_>) {
        self.total.write_member(key!("total"), o);
        self.currency.write_member(key!("currency"), o);
        self.order_id.write_member(key!("orderId"), o);
        self.cart.write_member(key!("cart"), o);
    }
}

impl ViewedProduct {
    /// The history members, next to the time stamps.
    pub(crate) fn members(&self, o: &mut JsonOut<'_>) {
        self.currency.write_member(key!("currency"), o);
        self.products.write_member(key!("products"), o);
    }
}
